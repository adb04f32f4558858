"""`python -m bench`: every part's benchmark in one run, one table of ratios."""
