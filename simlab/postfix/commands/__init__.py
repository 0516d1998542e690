"""Postfix administration commands (postmap, postalias, newaliases, ...)."""
