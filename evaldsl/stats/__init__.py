"""Statistics: bootstrap estimates, paired tests and agreement between raters."""
