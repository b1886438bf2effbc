"""Writes. Every change to tracking data goes through a function here (`<entity>_<action>`)."""
