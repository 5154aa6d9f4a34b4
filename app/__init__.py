"""The closeout Textual app, its screens and the command line (``closeout``)."""
