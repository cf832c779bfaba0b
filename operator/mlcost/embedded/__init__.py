"""The embedded AWS: moto in server mode plus extensions for the operations moto lacks."""
