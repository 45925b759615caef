"""Datasets: toy tasks and real data (finding files is kept apart from parsing them)."""
