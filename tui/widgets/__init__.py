"""Small reusable widgets and pure text renderers for the panes."""
