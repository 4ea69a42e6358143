# Heat energy from flow and temperatures (purpose: calculate).
#
# Inputs:  flow (m³ per interval), t_supply and t_return (°C, averages of the interval).
# Result:  energy in kWh = flow × (t_supply − t_return) × heat_capacity, where heat_capacity is
#          the volumetric heat capacity of water in kWh/(m³·K) (1.163 for 1 m³ = 1000 kg; a
#          little less in hot water: give the meter's value as parameter).
# An interval without flow, or with return warmer than supply, delivers no heat (0 kWh).
heat_capacity = data.parameters.get("heat_capacity", 1.163)

flow = data.inputs["flow"]
delta = data.inputs["t_supply"] - data.inputs["t_return"]
energy = flow * delta * heat_capacity
result.set_values(where((flow > 0) & (delta > 0), energy, 0.0).where(flow.present(), nan))
