"""The velocipy command."""
