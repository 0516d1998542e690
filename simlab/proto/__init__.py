"""NAME
    proto - sans-IO cores of simlab's own protocols

DESCRIPTION
    Bytes in, bytes and requests out, no I/O inside: each module is one
    protocol core (or a part of one) whose header says what it speaks. The
    message store's are ``pop3`` and ``imap`` (with ``imap_state``,
    ``imap_parse``, ``imap_login``, ``imap_commands``, ``imap_messages``,
    ``imap_fetch``, ``imap_mime``, ``imap_search``, ``imap_esearch``,
    ``imap_sort``, ``imap_thread``, ``imap_context``, ``imap_append``,
    ``imap_catenate``); ``actions`` says what a
    core may ask of its adapter, ``login`` holds what Dovecot's login
    processes share, ``mailbox`` the store interface those cores use.

SEE ALSO
    simlab.store (the message store and its asyncio adapters), STYLE.md (h11)
"""
