"""NAME
    proto - sans-IO cores of simlab's own protocols

DESCRIPTION
    Bytes in, bytes and requests out, no I/O inside: ``pop3`` and ``imap``
    (with ``imap_parse``, ``imap_fetch``, ``imap_search``) are the servers of
    the message store, ``actions`` says what a core may ask of its adapter,
    ``login`` holds what Dovecot's login processes share, ``mailbox`` the
    store interface the cores are written against.

SEE ALSO
    simlab.store (the adapters and the store), STYLE.md (h11)
"""
