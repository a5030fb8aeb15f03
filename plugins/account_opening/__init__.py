"""Bank account-opening applications on SuiteCRM roles and security groups."""
