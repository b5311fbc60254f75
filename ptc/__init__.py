"""ptc: the operator CLI of ecr-pull-through-cache (`python -m ptc preview | image | verify | reconcile`)."""
