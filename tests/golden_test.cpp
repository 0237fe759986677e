// Placeholder replaced below once golden files exist.
