"""The chat: conversations sidebar, the message view, the composer and the logic that ties them to jobs."""
