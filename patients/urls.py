from .views import patient_urls

urlpatterns = patient_urls()
