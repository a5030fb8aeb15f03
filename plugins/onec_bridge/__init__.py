"""1C:Enterprise bridge: incoming payments into the CRM, counterparties out to 1C."""
