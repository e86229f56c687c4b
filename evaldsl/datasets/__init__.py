"""Datasets: files or inline rows → sample rows, and what the compiler learns about their fields."""
