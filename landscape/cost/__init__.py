"""The cost estimate: device-hours of the runs a study plans (``estimate``), from FLOPs counted
on the meta device (``flops``) and speeds measured per device (``throughput.json``)."""
