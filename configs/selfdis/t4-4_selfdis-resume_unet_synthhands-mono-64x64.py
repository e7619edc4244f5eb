# Table 4, row (4): row (3) trained for as many epochs again, warm-started from row (3)'s
# last checkpoint (its weights; a fresh optimizer and epoch counter).
_base_ = ['./t4-3_selfdis_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
# epoch_4 is row (3)'s last epoch at CPU-small scale (epoch_75.pth at paper scale)
load_from = 'work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_4.pth'
