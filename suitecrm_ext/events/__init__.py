"""Record-change events: the event model, the change feed (poller), the push receiver, the dispatcher."""
