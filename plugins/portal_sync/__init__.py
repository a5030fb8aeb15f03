"""Two-way sync between the internal SuiteCRM and a client portal."""
