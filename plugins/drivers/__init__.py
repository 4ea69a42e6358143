"""Protocol drivers (DLMS/COSEM, Modbus, IEC 62056-21, simulated)."""
