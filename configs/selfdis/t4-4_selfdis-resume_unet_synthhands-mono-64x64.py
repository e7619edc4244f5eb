# Table 4, row (4): row (3) trained for as many epochs again, warm-started from row (3)'s
# last checkpoint (its weights; a fresh optimizer and epoch counter).
_base_ = ['./t4-3_selfdis_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
# Row (3)'s last checkpoint when it is trained with this file's own schedule and the default
# work dir. tools/reproduce_table4.py replaces it by the checkpoint that row (3) really wrote
# last (epoch_<its epochs>.pth of the preset and budget); by hand, after other epochs:
#   --cfg-options load_from=work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_N.pth
load_from = 'work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_4.pth'
