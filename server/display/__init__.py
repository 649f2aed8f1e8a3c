"""What the console shows of mail that is hard to read: parse problems in words, the raw source,
delivery-status summaries of bounces, flag labels and labels for mail without a subject or headers.

Flask-free (the web layer translates the English texts these modules return, which are the
catalog keys of ``server/web/locales``), so each piece is tested directly.
"""
