"""Polar Measurement Data (PMD): the Polar H10/Verity Sense/OH1 streaming service over BLE."""
