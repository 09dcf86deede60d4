"""What a trained network learned (inside.ipynb and the report's section 5): ``analysis``
computes inside.json against ``ngram`` models; ``inside_figures`` and ``inside_report`` show it."""
