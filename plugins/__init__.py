"""The plugins shipped with suitecrm-ext, one folder each, registered through entry points."""
