"""The modal and full screens of the closeout TUI."""
