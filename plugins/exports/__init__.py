"""Export destinations, import formats and IEC 61968-9 adapters."""
