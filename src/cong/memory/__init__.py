"""Conversations and memories shared by all of a user's keys and web sessions."""
