"""The Lightning side: Trainer construction, callbacks and learning-rate schedules."""
