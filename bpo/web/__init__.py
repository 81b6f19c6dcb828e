"""The web app: where approvers sign off and the program office runs its transitions (`bpo web`)."""
