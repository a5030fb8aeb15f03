"""BP-scripts: automatic business-process steps (set fields, create records, SMS, e-mail)."""
