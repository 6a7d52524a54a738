"""The built-in lab: a disposable Samba AD DC seeded with every failure scenario, and the
snapshot captured from it that serves the zero-setup demo."""
