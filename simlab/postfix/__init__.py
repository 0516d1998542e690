"""Postfix-like MTA: one package per Postfix program."""
