"""The plugin's docks: Deblur, Score region and Fine-tune (one module each)."""
