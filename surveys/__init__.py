"""Tandem survey collection: instruments, answers, storage, campaigns and exports."""
