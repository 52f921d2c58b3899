"""Built-in engine plugins, registered through entry points exactly like third-party ones."""
