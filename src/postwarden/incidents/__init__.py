"""Breach response: incidents, their scope, recall requests, letters and the regulator report."""
