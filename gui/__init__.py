"""ConvScope's window: Qt widgets and the training thread on top of the engine, with no math of its own."""
