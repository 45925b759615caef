"""One module per question of the lab: config dataclass -> run -> results folder."""
