"""The CRM gateway: one interface (``base.CRM``) over REST v4_1, V8, SOAP and MySQL."""
