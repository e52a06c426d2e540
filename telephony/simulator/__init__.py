"""A PBX simulator that speaks AMI like Asterisk 22 (for ``switchboard sim``, the demo, tests).

```python
sim = PbxSimulator("switchboard", "secret", time_scale=0.05, seed=1)
port = await sim.start()                       # 127.0.0.1, ephemeral port
sim.add_phone("PJSIP/1001", PhoneBehaviour(mode="answer", answer_after=1.0))
uniqueid = sim.place_call(caller="+15550001111", did="5551000", dtmf=["1"])
sim.start_traffic(6, DEMO_CALLERS); sim.stop_traffic()
await sim.drop_connections(); await sim.restart(downtime=1.0)
await sim.stop()
```
"""

from .model import CallerProfile, PhoneBehaviour
from .pbx import DEMO_CALLERS, PbxSimulator

__all__ = ["DEMO_CALLERS", "CallerProfile", "PbxSimulator", "PhoneBehaviour"]
