"""Youth Hub: youth programs and educational tourism for Kabupaten Purbalingga."""

__version__ = "0.1.0"
