"""NAME
    slots - the attribute names an smtpd session keeps in slots

DESCRIPTION
    The session's state in slots: a connection builds ~110 attributes, and in the instance
    dict that many cost its repeated growth (several microseconds per connection) and
    slower attribute reads. Only names that are no class attribute of a base may be here
    (an unset slot would hide the class's value); others, and anything set from outside,
    stay in the dict.

SEE ALSO
    session.py
"""

SESSION_SLOTS = ("ctx", "service", "cfg", "settings", "_soft_error_limit", "_noop_commands", "_pids", "pid",
                 "myhostname", "ident", "_timeout_key", "_deadline", "_postpone", "checks", "resolved",
                 "client_addr", "client_port", "server_addr", "server_port", "client_name", "namaddr",
                 "where", "protocol", "helo_name", "sasl_username", "sasl_method", "error_count", "counts",
                 "ill_pipelining", "access_denied", "_logged_disconnect", "_own_pid", "_timed_out", "lost",
                 "hangup", "_pregreet", "_greeted", "_conn_lost", "_finished",
                 # commands.py reset_transaction()
                 "sender", "recipient", "recipients", "rcpt_count", "rcpt_overshoot", "msg_size", "dsn_envid",
                 "dsn_ret", "encoding", "smtputf8", "arrival", "queue_id", "cleanup", "in_data", "data_bytes",
                 "data_lines", "act_size", "too_big", "bdat_chunks", "bdat_bytes", "bdat_error",
                 "saved_actions", "xforward", "_rewrite_context",
                 # peer.py client_name()
                 "reverse_name", "name_status", "reverse_name_status",
                 # aiosmtpd's SMTP.__init__ (aioinit.init_smtp), asyncio's StreamReaderProtocol.__init__,
                 # aiosmtpd's connection_made and master(8)
                 "__ident__", "loop", "_loop", "_paused", "_drain_waiters", "_connection_lost",
                 "_stream_reader_wr", "_strong_reader", "_reject_connection", "_stream_writer", "_task",
                 "_transport", "_client_connected_cb", "_over_ssl", "_closed", "event_handler", "data_size_limit",
                 "enable_SMTPUTF8", "_decode_data", "hostname", "tls_context", "require_starttls",
                 "_timeout_duration", "_timeout_handle", "_tls_handshake_okay", "_tls_protocol",
                 "_original_transport", "session", "envelope", "transport", "_handler_coroutine",
                 "_auth_require_tls", "_proxy_timeout", "_auth_callback", "_authenticator", "_auth_required",
                 "_handle_hooks", "_ehlo_hook_ver", "_enforce_call_limit", "_reader", "_writer", "master_process")
