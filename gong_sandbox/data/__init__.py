"""The deterministic company the sandbox serves: its calls, people, content and records."""
