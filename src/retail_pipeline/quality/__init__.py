"""Helpers of the quality pipeline (report rendering)."""
