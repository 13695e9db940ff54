"""What the commands do above tuning: train the final model, export, trials, report, plan, summary,
diagnose, plots.
"""
