from .transforms import ToMonochrome

__all__ = ['ToMonochrome']
