"""Collegial actions on documents: voting, approval, signing, acknowledgement, deputies."""
