"""One LightningModule per task family; each takes a built model and optimizer factories."""
