"""OTP-style supervision of Ray actors (child specs, restart strategies, reconcile loops)."""
